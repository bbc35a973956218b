"""Matrix, Paperboy's third platform: rooms on any homeserver, reactions as the buttons.

Built on matrix-nio rather than mautrix-python (both maintained, asyncio, on aiohttp): nio's calls
return response objects instead of raising, so an error answer maps onto a `DeliveryResult` in one
place (`delivery.result_of`) and keeps the server's ``retry_after_ms`` (mautrix's errors drop it); its
``room_send`` takes the transaction id that makes a send exactly once; and its sync keeps each room's
state (power levels, encryption, members) that permissions and encrypted rooms are decided on. Its
own waiting on 429s and timeouts is turned off: the outbox paces and retries.

`platform` is the light entry point; the adapter (`adapter.MatrixAdapter`) loads nio.
"""

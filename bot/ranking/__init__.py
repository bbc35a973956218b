"""What a channel likes: its interest model learnt from 👍, saves and 👎, and papers ranked by it."""

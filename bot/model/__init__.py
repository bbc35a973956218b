"""What Paperboy talks about: papers and their ids, channel refs and commands, replies, actions, rows."""

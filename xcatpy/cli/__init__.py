"""The client side of every command. Imports nothing of the server stack."""

"""Guests and the hypervisors that run them: definitions, toolstack drivers, capacity."""

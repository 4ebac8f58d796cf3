"""Comparing listening with a friend: consent (invite, accept, withdraw) kept in the warehouse."""

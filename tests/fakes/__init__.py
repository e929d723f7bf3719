"""Test doubles shared by the tests; src/ never imports them."""

"""Runnable demonstrations of the lecture notes' examples (`nablanet demo NAME`)."""

"""Scripts run by the *target* interpreter, so they use the standard library only."""

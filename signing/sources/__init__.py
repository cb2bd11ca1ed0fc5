"""Remote sources `install` turns into a local staged directory before verifying it: pinned Git commits."""

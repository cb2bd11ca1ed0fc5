"""Remote sources `install` fetches into a private staging directory before verifying: a release URL, a Git commit."""

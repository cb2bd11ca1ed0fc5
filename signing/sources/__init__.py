"""Sources `install` fetches into a local staging directory before verifying: a release URL, a Git commit."""

"""In-portal alerts: what a navigator or coordinator needs to look at on a case."""

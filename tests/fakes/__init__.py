"""Local fake servers that speak the networks' wire formats, for the crawler tests."""

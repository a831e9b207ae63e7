"""paperfeed: self-hosted research-paper discovery."""

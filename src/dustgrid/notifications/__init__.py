"""In-app inbox per user and pluggable outbound channels (webhook)."""

"""The Textual terminal UI (`assistant chat`). Importing this package imports nothing heavy; `app` imports textual."""

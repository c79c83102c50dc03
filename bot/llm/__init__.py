"""A language model behind any OpenAI-compatible `POST /chat/completions`: the client, its typed
errors, and the tasks the bot asks of it (summaries and translations of transcripts)."""

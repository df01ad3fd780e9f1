"""Pure report builders: content from positions, balances and stored rows, and
its Markdown rendering. No I/O here; activities fetch the inputs."""

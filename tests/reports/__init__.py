"""The report workflows, their builders and Markdown, and the report schedules."""

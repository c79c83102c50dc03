"""Speech-to-text: the AIML job API client, the model catalogue, result parsing, poll schedule.

This package imports nothing of ours outside itself, and neither storage nor telegram.
"""

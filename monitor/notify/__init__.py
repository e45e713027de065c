"""Alerts reach people who are not watching: duty roster, signed webhooks, escalation."""

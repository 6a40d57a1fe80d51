"""Announcements to citizens who asked for them (issue 16): subscriptions with their consent
record, and (elsewhere in this package) composing, approving and delivering announcements."""

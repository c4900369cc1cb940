"""Outbound webhooks: endpoints a program registers, the events it publishes, and their signed,
retried, logged deliveries.

Layout: ``webhooks`` is its own low-level app, importing only ``tenancy``, because partners,
payouts, segmentation and campaigns all publish events. Keeping it below them means any of
them can call ``webhooks.services.event_publish`` without an import cycle, and the delivery
machinery (signing, retries, SSRF guard, auto-disable) lives in one place. It knows nothing of
the publishers: an event is a registered name (``webhooks.event_types``) and a JSON payload.
"""

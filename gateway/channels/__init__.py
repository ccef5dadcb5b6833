"""Delivery channels: one class per channel behind :class:`gateway.channels.base.Channel`."""

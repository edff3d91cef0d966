"""Pusher that writes TF Serving's layout atomically, with its config files beside it."""

from components.serving_pusher.component import ServingPusher

__all__ = ["ServingPusher"]

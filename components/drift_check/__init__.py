"""DriftCheck: TFX's DistributionValidator with a drift report and a block action."""

from components.drift_check.component import DriftCheck

__all__ = ["DriftCheck"]

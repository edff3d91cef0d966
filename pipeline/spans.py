"""Span resolution for scheduled runs: the span window, and the previous span's statistics.

The span window: the Examples of the newest N spans, found by TFX's SpanRangeStrategy.

ImageExampleGen ingests one span a run (the newest, as TFX's ExampleGen does); the window's
resolver then picks, among every Examples artifact ImageExampleGen has written in this
pipeline, those whose span is among the newest N (RangeConfig.rolling_range). A span ingested
again after its files changed has several artifacts: only the newest (highest version, then
latest written) of each span is kept, so no span is trained on twice.

The drift baseline: the newest StatisticsGen output of an earlier span than the newest one
(this run's), so a span that is run again (say, once blocked by drift, then with warnings
only) is still compared with the span before it. Without spans (every span 0), the newest
statistics of an earlier run. A compiled Kubeflow / Vertex spec expresses the same with a
latest-artifact resolver whose filter asks for `span < this run's span`
(pipeline/kfp_spec.py's previous_statistics_filter).
"""

from typing import Dict, List

from tfx import v1 as tfx
from tfx.dsl.input_resolution.strategies import span_range_strategy

from schemas import nodes


def _number(artifact, name: str) -> int:
  """An int custom property TFX's ExampleGen driver records ("span", "version"; a string in
  old artifacts), 0 when absent."""
  if not artifact.has_custom_property(name):
    return 0
  return int(artifact.get_custom_property(name) or 0)


def newest_per_span(artifacts: List) -> List:
  """One artifact per span, the newest (highest version, then written last); newest span
  first."""
  best: Dict[int, object] = {}
  for artifact in artifacts:
    span = _number(artifact, "span")
    current = best.get(span)
    if current is None or (_number(artifact, "version"), artifact.id) > (
      _number(current, "version"),
      current.id,
    ):
      best[span] = artifact
  return [best[span] for span in sorted(best, reverse=True)]


class LatestSpans(span_range_strategy.SpanRangeStrategy):
  """SpanRangeStrategy over a rolling range, one artifact per span."""

  def resolve_artifacts(self, store, input_dict):
    resolved = super().resolve_artifacts(store, input_dict)
    if resolved is None:
      return None
    return {key: newest_per_span(artifacts) for key, artifacts in resolved.items()}


def resolver(example_gen, spans: int) -> tfx.dsl.Resolver:
  """The resolver node: the newest `spans` spans among every run's output of `example_gen`.

  A plain Channel naming the producer (not the component's output channel, which would
  hold this run's artifact alone), as TFX documents for SpanRangeStrategy; the resolver still
  runs after this run's ingestion, so today's span is in the window.
  """
  window = tfx.dsl.Resolver(
    strategy_class=LatestSpans,
    config={
      "range_config": tfx.proto.RangeConfig(rolling_range=tfx.proto.RollingRange(num_spans=spans))
    },
    examples=tfx.dsl.Channel(
      type=tfx.types.standard_artifacts.Examples,
      producer_component_id=example_gen.id,
      output_key="examples",
    ),
  ).with_id(nodes.SPAN_WINDOW_RESOLVER)
  window.add_upstream_node(example_gen)
  return window


def _statistics_span(artifact) -> int:
  """The span StatisticsGen copied onto its statistics (the `span` property), or a custom one."""
  return _number(artifact, "span") or artifact.span


def previous_statistics(artifacts: List) -> List:
  """[the newest artifact of an earlier span than the newest one], or of an earlier run when
  all share one span; [] when there is none."""
  if not artifacts:
    return []
  newest = max(artifacts, key=lambda a: (_statistics_span(a), a.id))
  span = _statistics_span(newest)
  earlier = [a for a in artifacts if _statistics_span(a) < span]
  if not earlier:
    earlier = [a for a in artifacts if a.id != newest.id] if not span else []
  return [max(earlier, key=lambda a: a.id)] if earlier else []


class PreviousStatistics(tfx.dsl.experimental.ResolverStrategy):
  """The statistics to compare this run's with (see previous_statistics)."""

  def resolve_artifacts(self, store, input_dict):
    del store
    return {key: previous_statistics(artifacts) for key, artifacts in input_dict.items()}


def previous_statistics_resolver(statistics_gen, kubeflow_v2: bool = False) -> tfx.dsl.Resolver:
  """The drift baseline's resolver. Locally: PreviousStatistics over every StatisticsGen output
  (after this run's). Compiled for Kubeflow V2, which takes latest-artifact resolvers only: the
  latest statistics (of an earlier run: the resolver has no upstream stage), narrowed to an
  earlier span by kfp_spec.previous_statistics_filter."""
  statistics = tfx.dsl.Channel(
    type=tfx.types.standard_artifacts.ExampleStatistics,
    producer_component_id=statistics_gen.id,
    output_key="statistics",
  )
  if kubeflow_v2:
    return tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
      statistics=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ExampleStatistics),
    ).with_id(nodes.PREVIOUS_STATISTICS_RESOLVER)
  resolver_node = tfx.dsl.Resolver(
    strategy_class=PreviousStatistics, statistics=statistics
  ).with_id(nodes.PREVIOUS_STATISTICS_RESOLVER)
  resolver_node.add_upstream_node(statistics_gen)
  return resolver_node

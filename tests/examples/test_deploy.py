"""The deployment files of docs/integrations.md (examples/deploy/) say what strew accepts:
every ``strew`` command line in them parses with strew's own command line (each option
exists and its value converts), the YAML and JSON parse, and the Grafana dashboard queries
only metrics strew declares."""

from __future__ import annotations

import configparser
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from strew.cli import app
from strew.signals.declared import METRICS

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"


def parse_strew(argv: list[str]) -> dict[str, Any]:
    """Parse ``strew COMMAND OPTIONS...`` as strew would, without running it; the options'
    values, converted. Raises what strew's command line raises for a wrong one."""
    assert argv[0].endswith("strew"), argv
    group = typer.main.get_command(app)
    parent = group.context_class(group, info_name="strew")
    command = group.get_command(parent, argv[1])  # type: ignore[attr-defined]
    if command is None:
        raise LookupError(f"strew has no command {argv[1]!r}")
    context = command.make_context(argv[1], argv[2:], parent=parent)
    return dict(context.params)


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def interpolated(argv: list[str]) -> list[str]:
    """Compose's ``${NAME:?message}`` filled as compose would, from a made-up value."""
    return [re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "made-up-secret", arg) for arg in argv]


def test_the_compose_file_runs_redis_a_worker_and_the_dashboard() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "worker", "dashboard"}
    assert "noeviction" in services["redis"]["command"]


def test_the_compose_worker_command_parses_with_strews_command_line() -> None:
    params = parse_strew(interpolated(compose()["services"]["worker"]["command"]))
    assert params["url"] == "redis://redis:6379/0"
    assert params["docket"] == "shop"
    assert params["healthcheck_port"] == 8080


def test_the_compose_dashboard_command_parses_with_strews_command_line() -> None:
    params = parse_strew(interpolated(compose()["services"]["dashboard"]["command"]))
    assert params["token"] == "made-up-secret"
    assert params["port"] == 8000


def test_a_misspelt_option_in_a_command_line_is_caught_by_the_same_parsing() -> None:
    with pytest.raises(Exception, match="No such option: --concurency"):
        parse_strew(["strew", "worker", "--concurency=2"])


def test_the_systemd_unit_starts_a_worker_with_a_command_line_strew_accepts() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "strew-worker@.service", encoding="utf-8")
    # %H and %i are systemd's host name and instance name.
    line = unit["Service"]["ExecStart"].replace("%H", "host").replace("%i", "1")
    params = parse_strew(shlex.split(line))
    assert params["name"] == "host-1"
    assert int(unit["Service"]["TimeoutStopSec"]) > params["shutdown_grace"].total_seconds()


def test_the_kubernetes_probes_ask_the_port_the_worker_serves_its_health_on() -> None:
    deployment = yaml.safe_load((DEPLOY / "kubernetes.yaml").read_text(encoding="utf-8"))
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    params = parse_strew(container["command"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["health"] == params["healthcheck_port"]
    assert ports["metrics"] == params["metrics_port"]
    assert params["healthcheck_host"] == "0.0.0.0"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "health"}
    assert spec["terminationGracePeriodSeconds"] > params["shutdown_grace"].total_seconds()


def grafana() -> dict[str, Any]:
    loaded = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_grafana_dashboard_has_the_shape_grafana_imports() -> None:
    dashboard = grafana()
    assert isinstance(dashboard["title"], str) and isinstance(dashboard["uid"], str)
    assert isinstance(dashboard["schemaVersion"], int)
    assert isinstance(dashboard["templating"]["list"], list)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] in {"timeseries", "stat", "gauge", "table", "heatmap"}
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(refs) == len(set(refs))


def test_every_metric_the_grafana_dashboard_queries_is_one_strew_declares() -> None:
    declared = {metric.name for metric in METRICS}
    queried: set[str] = set()
    for panel in grafana()["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"\bstrew_[a-z_]+", target["expr"]))
    histograms = {m.name for m in METRICS if m.kind == "histogram"}
    series = {
        name.removesuffix(suffix)
        for name in queried
        for suffix in ("_bucket", "_sum", "_count")
        if name.endswith(suffix) and name.removesuffix(suffix) in histograms
    }
    unknown = {name for name in queried if name not in declared} - {
        f"{name}{suffix}" for name in series for suffix in ("_bucket", "_sum", "_count")
    }
    assert unknown == set()
    # Every declared metric is on the dashboard somewhere.
    assert declared - queried - series == set()

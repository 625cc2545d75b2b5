"""Shared fixtures: a live hitkit server per test module (SQLite, or PostgreSQL with HITKIT_TEST_DATABASE=postgres)."""

from __future__ import annotations

import pytest

from tests.support.server import RunningServer, start_server

HTML_QUESTION = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
<HTMLContent><![CDATA[<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
<input type="hidden" name="assignmentId" id="assignmentId" value=""/><input name="answer" type="text"/>
<input type="submit"/></form></body></html>]]></HTMLContent><FrameHeight>450</FrameHeight></HTMLQuestion>"""


@pytest.fixture(scope="module")
def server() -> RunningServer:
    running = start_server()
    yield running
    running.stop()


@pytest.fixture()
def requester(server: RunningServer):  # type: ignore[no-untyped-def]
    """A fresh requester (own balance, own HITs) for one test."""
    return server.new_requester()


@pytest.fixture()
def mturk(server: RunningServer, requester):  # type: ignore[no-untyped-def]
    """A boto3 MTurk client for a fresh requester."""
    return server.client(requester)


def hit_params(**overrides) -> dict:  # type: ignore[no-untyped-def]
    params = dict(
        Title="Label an image", Description="Pick the right label", Reward="0.50", MaxAssignments=3,
        LifetimeInSeconds=3600, AssignmentDurationInSeconds=600, AutoApprovalDelayInSeconds=86400,
        Question=HTML_QUESTION, Keywords="image, label",
    )
    params.update(overrides)
    return params

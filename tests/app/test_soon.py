"""app.soon.Soon: one call after the current event, ahead of normal-priority events."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

from phasebrush.app.soon import Soon


class _Recorder(QObject):
    """Records a normal-priority posted event (as a repaint request is posted)."""

    def __init__(self, log):
        super().__init__()
        self.log = log

    def event(self, e):
        if e.type() == QEvent.Type.User:
            self.log.append("posted")
            return True
        return super().event(e)


def test_requests_in_one_event_make_one_call_before_earlier_posted_events(qtbot):
    log = []
    soon = Soon(lambda: log.append("soon"))
    rec = _Recorder(log)
    QTimer.singleShot(0, lambda: log.append("timer"))
    QCoreApplication.postEvent(rec, QEvent(QEvent.Type.User))   # posted first
    for _ in range(3):
        soon.request()
    assert soon.pending
    qtbot.waitUntil(lambda: "timer" in log and "posted" in log, timeout=2_000)
    assert log.count("soon") == 1 and log.index("soon") < log.index("posted")
    assert not soon.pending


def test_a_cancelled_request_calls_nothing_and_a_new_one_calls_once(qtbot):
    log = []
    soon = Soon(lambda: log.append("soon"))
    soon.request()
    soon.cancel()
    QTimer.singleShot(0, lambda: log.append("timer"))
    qtbot.waitUntil(lambda: "timer" in log, timeout=2_000)
    assert log == ["timer"]
    soon.request()
    qtbot.waitUntil(lambda: "soon" in log, timeout=2_000)
    assert log == ["timer", "soon"]


def test_throttle_calls_at_once_when_due_then_once_per_interval(qtbot):
    from phasebrush.app.soon import Throttle

    calls = []
    th = Throttle(lambda: calls.append(len(calls)), 0.2)
    th.request()                                    # due: at once (after this event)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=2_000)
    for _ in range(5):
        th.request()                                # within the interval: one timer
    assert len(calls) == 1
    qtbot.waitUntil(lambda: len(calls) == 2, timeout=2_000)
    th.request()
    th.cancel()                                     # a cancelled request calls nothing
    QTimer.singleShot(400, lambda: calls.append("end"))
    qtbot.waitUntil(lambda: "end" in calls, timeout=2_000)
    assert calls == [0, 1, "end"]

"""Fault search: the rule classes the scheduled properties draw from.

Each module here is one class of fault or workload shape (a Jepsen nemesis, a fault
aimed at one message, a clock or time-window jump, a retried request, keys chosen for
the store's layout), written as a mixin of Hypothesis rules over the
:class:`~replicheck.properties.search.driver.Driver` surface a scheduled machine
offers. :mod:`replicheck.properties.search.driver` says what a rule may touch.
"""

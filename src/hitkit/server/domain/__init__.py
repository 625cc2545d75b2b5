"""The marketplace rules over the store, without HTTP: HIT state, eligibility, grading, money, events, sweeping."""

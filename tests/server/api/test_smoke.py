from tests.conftest import hit_params


def test_balance_and_create_and_work(server, mturk):
    assert mturk.get_account_balance()["AvailableBalance"] == "10000.00"
    hit = mturk.create_hit(**hit_params())["HIT"]
    assert hit["HITStatus"] == "Assignable"
    w = server.new_worker()
    aid = server.do_hit(w, hit["HITId"], {"answer": "cat"})
    out = mturk.list_assignments_for_hit(HITId=hit["HITId"])
    assert out["NumResults"] == 1 and out["Assignments"][0]["AssignmentId"] == aid
    mturk.approve_assignment(AssignmentId=aid)

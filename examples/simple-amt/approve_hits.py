# approve_hits.py: approve every submitted assignment of the HITs in --hit_ids_file whose output is valid JSON,
# in the shape of simple-amt's script (which also offered to reject the others; -f skips the question).
import argparse, json

import simpleamt
from get_results import get_output

if __name__ == '__main__':
  parser = argparse.ArgumentParser(parents=[simpleamt.get_parent_parser()])
  parser.add_argument('-f', action='store_true', default=False)
  args = parser.parse_args()
  mtc = simpleamt.get_mturk_connection_from_args(args)

  approve_ids, reject_ids = [], []
  with open(args.hit_ids_file, 'r') as f:
    hit_ids = [line.strip() for line in f if line.strip()]
  for hit_id in hit_ids:
    for a in mtc.list_assignments_for_hit(HITId=hit_id, AssignmentStatuses=['Submitted'], MaxResults=100)['Assignments']:
      try:
        get_output(a['Answer'])
        approve_ids.append(a['AssignmentId'])
      except ValueError:
        reject_ids.append(a['AssignmentId'])

  print('This will approve %d assignments and reject %d assignments' % (len(approve_ids), len(reject_ids)))
  if args.f or input('Continue? (y/N) ').strip().lower() == 'y':
    for assignment_id in approve_ids:
      mtc.approve_assignment(AssignmentId=assignment_id)
      print('Approved %s' % assignment_id)
    for assignment_id in reject_ids:
      mtc.reject_assignment(AssignmentId=assignment_id, RequesterFeedback='The output of the HIT was not valid.')
      print('Rejected %s' % assignment_id)

# get_results.py: one JSON line per assignment of the HITs in --hit_ids_file, in the shape of simple-amt's script
# ({assignment_id, hit_id, worker_id, output, submit_time}). Unlike simple-amt, the Answer XML is parsed (so
# &amp; and < come back as & and <).
import argparse, json
import xml.etree.ElementTree as ET

import simpleamt

NS = '{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}'


def get_output(answer_xml):
  for answer in ET.fromstring(answer_xml).iter(NS + 'Answer'):
    if answer.findtext(NS + 'QuestionIdentifier') == 'output':
      return json.loads(answer.findtext(NS + 'FreeText') or 'null')
  return None


if __name__ == '__main__':
  parser = argparse.ArgumentParser(parents=[simpleamt.get_parent_parser()])
  parser.add_argument('--rejected', action='store_true', dest='rejected', default=False)
  args = parser.parse_args()
  mtc = simpleamt.get_mturk_connection_from_args(args)

  statuses = ['Approved', 'Submitted'] + (['Rejected'] if args.rejected else [])
  with open(args.hit_ids_file, 'r') as f:
    hit_ids = [line.strip() for line in f if line.strip()]
  for hit_id in hit_ids:
    kwargs = {'HITId': hit_id, 'AssignmentStatuses': statuses, 'MaxResults': 100}
    while True:
      page = mtc.list_assignments_for_hit(**kwargs)
      for a in page['Assignments']:
        print(json.dumps({
          'assignment_id': a['AssignmentId'],
          'hit_id': hit_id,
          'worker_id': a['WorkerId'],
          'output': get_output(a['Answer']),
          'submit_time': a['SubmitTime'].isoformat(),
        }))
      if not page.get('NextToken'):
        break
      kwargs['NextToken'] = page['NextToken']

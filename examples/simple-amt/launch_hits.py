# launch_hits.py: one HIT per line of a JSON-lines input file, rendered from a Jinja template, in the shape of
# simple-amt's script. Written for Amazon's sandbox (the default) or production (--prod), with keys from
# config.json; run it unmodified against hitkit with `hitkit exec -- python launch_hits.py ...`.
import argparse, json, os, sys

import simpleamt

HTML_QUESTION = '''<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
  <HTMLContent><![CDATA[%s]]></HTMLContent>
  <FrameHeight>%d</FrameHeight>
</HTMLQuestion>'''

if __name__ == '__main__':
  parser = argparse.ArgumentParser(parents=[simpleamt.get_parent_parser()])
  parser.add_argument('--hit_properties_file', type=argparse.FileType('r'))
  parser.add_argument('--html_template')
  parser.add_argument('--input_json_file', type=argparse.FileType('r'))
  args = parser.parse_args()

  mtc = simpleamt.get_mturk_connection_from_args(args)

  hit_properties = json.load(args.hit_properties_file)
  hit_properties['Reward'] = str(hit_properties['Reward'])
  simpleamt.setup_qualifications(hit_properties)

  frame_height = hit_properties.pop('FrameHeight')
  env = simpleamt.get_jinja_env()
  template = env.get_template(args.html_template)

  if args.hit_ids_file is None:
    print('Need to input a hit_ids_file')
    sys.exit(1)
  if os.path.isfile(args.hit_ids_file):
    print('hit_ids_file already exists')
    sys.exit(1)

  with open(args.hit_ids_file, 'w') as hit_ids_file:
    for i, line in enumerate(args.input_json_file):
      hit_input = json.loads(line.strip())
      template_params = {'input': json.dumps(hit_input)}
      html = template.render(template_params)
      hit_properties['Question'] = HTML_QUESTION % (html, frame_height)

      # simple-amt retried forever on any error; give up after three tries instead.
      for attempt in range(3):
        try:
          boto_hit = mtc.create_hit(**hit_properties)
          break
        except Exception as e:
          print(e)
      else:
        sys.exit(1)
      hit_id = boto_hit['HIT']['HITId']
      hit_ids_file.write('%s\n' % hit_id)
      print('Launched HIT ID: %s, %d' % (hit_id, i + 1))

"""QuestionForm HITs rendered as a page: escaped, in the suggested styles, and a real browser's submission from it
reaches the requester as SelectionIdentifier / FreeText / OtherSelectionText answers."""

from __future__ import annotations

import xmltodict

from hitkit.mturk.xml import parse_question
from hitkit.server.web.question_form import render_question_form
from tests.conftest import hit_params
from tests.support.browser import chromium_page, screenshot

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2017-11-06/QuestionForm.xsd"
FORM = f"""<QuestionForm xmlns="{NS}">
<Overview><Text>Read the sentence: &lt;script&gt;alert(1)&lt;/script&gt; and answer.</Text></Overview>
<Question><QuestionIdentifier>sentiment</QuestionIdentifier><DisplayName>Sentiment</DisplayName><IsRequired>true</IsRequired>
 <QuestionContent><Text>How does it feel?</Text></QuestionContent>
 <AnswerSpecification><SelectionAnswer><StyleSuggestion>radiobutton</StyleSuggestion><Selections>
  <Selection><SelectionIdentifier>pos</SelectionIdentifier><Text>Positive</Text></Selection>
  <Selection><SelectionIdentifier>neg</SelectionIdentifier><Text>Negative</Text></Selection>
 </Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>topics</QuestionIdentifier><IsRequired>false</IsRequired>
 <QuestionContent><Text>Topics (pick any)</Text></QuestionContent>
 <AnswerSpecification><SelectionAnswer><MinSelectionCount>0</MinSelectionCount><MaxSelectionCount>3</MaxSelectionCount>
  <StyleSuggestion>checkbox</StyleSuggestion><Selections>
  <Selection><SelectionIdentifier>food</SelectionIdentifier><Text>Food</Text></Selection>
  <Selection><SelectionIdentifier>travel</SelectionIdentifier><Text>Travel</Text></Selection>
 <OtherSelection><Constraints><Length maxLength="100"/></Constraints></OtherSelection></Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>country</QuestionIdentifier><IsRequired>true</IsRequired>
 <QuestionContent><Text>Country</Text></QuestionContent>
 <AnswerSpecification><SelectionAnswer><StyleSuggestion>dropdown</StyleSuggestion><Selections>
  <Selection><SelectionIdentifier>us</SelectionIdentifier><Text>United States</Text></Selection>
  <Selection><SelectionIdentifier>ca</SelectionIdentifier><Text>Canada</Text></Selection>
 </Selections></SelectionAnswer></AnswerSpecification></Question>
<Question><QuestionIdentifier>why</QuestionIdentifier><IsRequired>true</IsRequired>
 <QuestionContent><Text>Why?</Text></QuestionContent>
 <AnswerSpecification><FreeTextAnswer><Constraints><Length minLength="2" maxLength="200"/></Constraints>
  <NumberOfLinesSuggestion>3</NumberOfLinesSuggestion></FreeTextAnswer></AnswerSpecification></Question>
</QuestionForm>"""


def test_rendering_escapes_and_follows_the_style():
    page = render_question_form(parse_question(FORM), assignment_id="ABC", submit_to="http://127.0.0.1:9/")
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert 'action="http://127.0.0.1:9/mturk/externalSubmit"' in page and 'value="ABC"' in page
    assert page.count('type="radio" name="sentiment"') == 2 and page.count('type="checkbox" name="topics"') == 2
    assert '<select name="country"' in page and '<textarea name="why" rows="3"' in page and 'minlength="2"' in page
    preview = render_question_form(parse_question(FORM), assignment_id="ASSIGNMENT_ID_NOT_AVAILABLE", submit_to="http://x")
    assert "disabled" in preview and 'id="submit"' not in preview


def test_browser_answers_a_question_form_hit(server, mturk):
    hit_id = mturk.create_hit(**hit_params(Question=FORM))["HIT"]["HITId"]
    worker = server.new_worker()
    aid = server.accept(worker, hit_id)
    with chromium_page() as page:  # the task page as hitkit serves it to the work page's frame
        page.goto(f"{server.url}/task/a/{aid}")
        page.check("input[name=sentiment][value=neg]")
        page.check("input[name=topics][value=travel]")
        page.fill("input[type=text][name=topics]", "weather")
        page.select_option("select[name=country]", "ca")
        page.fill("textarea[name=why]", "It rains & pours")
        screenshot(page, "question-form-filled")
        page.click("#submit")
        page.wait_for_load_state()
        assert "submitted" in page.content()
    answer = mturk.get_assignment(AssignmentId=aid)["Assignment"]["Answer"]
    parsed = {a["QuestionIdentifier"]: a for a in xmltodict.parse(answer)["QuestionFormAnswers"]["Answer"]}
    assert parsed["sentiment"]["SelectionIdentifier"] == "neg"
    assert parsed["topics"]["SelectionIdentifier"] == "travel" and parsed["topics"]["OtherSelectionText"] == "weather"
    assert parsed["country"]["SelectionIdentifier"] == "ca"
    assert parsed["why"]["FreeText"] == "It rains & pours"


def test_images_by_url_are_shown_and_unsafe_urls_are_not():
    binary = "<Binary><MimeType><Type>image</Type></MimeType><DataURL>{url}</DataURL><AltText>{alt}</AltText></Binary>"
    form = FORM.replace(
        "<Overview><Text>", "<Overview>" + binary.format(url="https://img.example/scene.png", alt='A "scene"')
        + binary.format(url="javascript:alert(1)", alt="bad") + "<Text>").replace(
        "<Text>How does it feel?</Text>", "<Text>How does it feel?</Text>" + binary.format(url="https://img.example/q.png", alt="face")).replace(
        "<Text>Negative</Text>", binary.format(url="https://img.example/neg.png", alt="frown"))
    page = render_question_form(parse_question(form), assignment_id="ABC", submit_to="http://127.0.0.1:9")
    assert 'src="https://img.example/scene.png" alt="A &#34;scene&#34;"' in page
    assert 'src="https://img.example/q.png" alt="face"' in page and 'src="https://img.example/neg.png" alt="frown"' in page
    assert "javascript:" not in page

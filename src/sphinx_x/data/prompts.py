"""Every task's instruction pool, in one registry, and the deterministic choice of a prompt.

:data:`DEFAULT_POOLS` registers every pool: the papers' tasks (:data:`PAPER_POOLS`, verbatim SPHINX
prompts first, then paraphrases), dataset tasks the papers give no verbatim prompt for
(:data:`DATASET_POOLS`), the OCR tasks (:data:`OCR_POOLS`) and the Set-of-Mark
and multipanel tasks (:data:`SOM_POOLS`) and MMInstruct's question types (:data:`MMINSTRUCT_POOLS`). A :class:`PromptPool` is that registry
with a run's own pools on top (theirs win): the one way pools are merged.

Every pool holds at least :data:`MIN_POOL_SIZE` (10) prompts with the same fields: Lynx found diverse
hand-written prompts per task to matter (PAPER_NOTES.md). A prompt is picked deterministically from
``(seed, key)`` so that a rebuilt dataset is identical; ``fixed=True`` always takes the first (verbatim)
prompt, for Lynx's "diverse prompts" ablation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

MIN_POOL_SIZE = 10  # prompts per registered task (Lynx's diverse-prompt finding)

# SPHINX's multiple-choice form: the question, this line, one "A. option" line per option, then the prompt.
OPTIONS_HEADER = "There are several options:"

# Verbatim SPHINX prompts come first in every pool (PAPER_NOTES.md).
PAPER_POOLS: dict[str, list[str]] = {
    "vqa": [
        "Answer the question using a single word or phrase.",
        "Reply with a single word or a short phrase.",
        "Give a one-word or short-phrase answer.",
        "Answer briefly with a word or a short phrase.",
        "Respond with just a word or a few words.",
        "Keep the answer to a single word or phrase.",
        "Answer in as few words as possible.",
        "Give a very short answer.",
        "Use one word or a short phrase to answer.",
        "A word or a brief phrase is enough as the answer.",
        "State the answer only, in a word or phrase.",
    ],
    # Follows the options block (OPTIONS_HEADER, then "A. ..." lines).
    "multiple_choice": [
        "Answer with the option's letter from the given choices directly.",
        "Reply with the letter of the correct option only.",
        "Answer with the letter of the right choice.",
        "Give only the letter of the correct answer.",
        "Which option is correct? Reply with its letter.",
        "Choose the best option and answer with its letter only.",
        "Respond with the letter that matches the correct option.",
        "Select the correct choice and give just its letter.",
        "Pick one option and answer with its letter.",
        "Reply with a single letter: the correct option.",
    ],
    "rec": [
        "Please provide the bounding box coordinate of the region this sentence describes: {description}.",
        "Locate the region described by \"{description}\" and give its bounding box.",
        "Where is {description}? Answer with a bounding box.",
        "Give the bounding box of {description}.",
        "Find {description} in the image and answer with its bounding box.",
        "Which region shows {description}? Reply with its bounding box coordinates.",
        "Output the bounding box for: {description}.",
        "Locate {description}. Answer with the box coordinates.",
        "Draw a bounding box around {description} and give its coordinates.",
        "Point out {description} with a bounding box.",
    ],
    "region_caption": [
        "Please provide a short description for this region: {box}",
        "Briefly describe what is inside {box}.",
        "What is shown in the region {box}? Answer briefly.",
        "Describe the region {box} in a few words.",
        "Give a short caption for the area {box}.",
        "What can be seen at {box}? Keep it short.",
        "Write a brief description of the content of {box}.",
        "Summarise the region {box} in one short phrase.",
        "What object or scene is inside {box}? Describe it briefly.",
        "Caption the area marked by {box}.",
    ],
    "detection": [
        "Detect all objects shown in the image.",
        "Find every object in the image and give its bounding box.",
        "List all objects in the image with their bounding boxes.",
        "Detect every object in this image and output their bounding boxes.",
        "Locate all the objects in the picture with bounding boxes.",
        "Give the category and bounding box of each object in the image.",
        "Which objects are in the image? Give each one with its bounding box.",
        "Mark all visible objects with bounding boxes.",
        "Perform object detection on this image.",
        "Name every object you can see and give its bounding box coordinates.",
    ],
    # SPHINX's pose data starts by finding the people, then asks for each one's key points.
    "person_detection": [
        "Detect all people shown in the image.",
        "Find every person in the image and give their bounding boxes.",
        "Locate all the people in the image.",
        "Give the bounding box of every person in the image.",
        "Detect each person in this picture.",
        "Where are the people in the image? Answer with bounding boxes.",
        "Mark all the people visible in the image with bounding boxes.",
        "Find all humans in the image and output their boxes.",
        "Locate each person and give the bounding box coordinates.",
        "Output a bounding box for every person shown.",
    ],
    # Relationship grounding: {description} is "subject predicate object"; the answer is the subject's box.
    # Verbatim from the authors' SPHINX demo (accessory/demos/multi_turn_mm_box.py), space before the colon included.
    "relation": [
        "Please provide the bounding box coordinate of the region this sentence describes : {description}.",
        "Locate the {description} and give its bounding box.",
        "Where is the {description}? Answer with a bounding box.",
        "Give the bounding box of the {description}.",
        "Find the {description} and answer with its bounding box coordinates.",
        "Which region shows the {description}? Reply with a bounding box.",
        "Output the bounding box for the {description}.",
        "Point out the {description} with a bounding box.",
        "Locate the {description}. Answer with the box coordinates.",
        "Draw a box around the {description} and give its coordinates.",
    ],
    "detection_category": [
        "detect all {category} shown in the image.",
        "Find every {category} in the image and give the bounding boxes.",
        "Locate all instances of {category}.",
        "Give the bounding box of every {category} in the image.",
        "Where are the {category} in this image? Answer with bounding boxes.",
        "Detect each {category} in the picture.",
        "Mark all {category} with bounding boxes.",
        "Find all {category} and output their bounding box coordinates.",
        "Output a bounding box for every {category} you can see.",
        "Locate the {category} in the image and give each one's bounding box.",
    ],
    "pose": [
        "Detect the key points of the person in the region {box}.",
        "Give the body key points of the person at {box}.",
        "Where are the body key points of the person in {box}?",
        "Estimate the pose of the person at {box}: give the key points.",
        "Locate the key points of the person inside {box}.",
        "Output the keypoint coordinates of the person in the region {box}.",
        "Find the joints of the person at {box}.",
        "Detect the body landmarks of the person in {box}.",
        "Give the pose key points for the person marked {box}.",
        "List the key points of the person in {box} with their coordinates.",
    ],
    "layout": [
        "Detect all texts and provide their bounding box coordinates.",
        "Find every piece of text in the image and give its bounding box.",
        "Locate all the text in the image with bounding boxes.",
        "Give the bounding box of every text region in the image.",
        "Where is the text in this image? Answer with bounding boxes.",
        "Detect every piece of text and output its box coordinates.",
        "Mark all text regions with bounding boxes.",
        "Find all the words and text lines in the image and give their bounding boxes.",
        "Output a bounding box for each text element in the image.",
        "Detect the text layout of the image with bounding boxes.",
    ],
    "grounded_caption": [
        "Describe the image concisely. Include the bounding box for each mentioned object.",
        "Give a short description of the image with a bounding box after every object you mention.",
        "Write a short caption of the image and give the bounding box of each object it names.",
        "Briefly describe the image, adding a bounding box after every object mentioned.",
        "Caption the image concisely with a bounding box for each object you mention.",
        "Summarise the image in a sentence, with bounding boxes for the objects you name.",
        "Describe the picture briefly and ground each mentioned object with its box.",
        "Give a concise description of the image; put each object's bounding box after it.",
        "Write a one-sentence caption in which every object is followed by its bounding box.",
        "Describe the scene in short, grounding each object with a bounding box.",
    ],
    "caption": [
        "Describe the image concisely.",
        "Write a short caption for this image.",
        "Summarise the image in one sentence.",
        "Give a brief description of the image.",
        "Describe this picture in a few words.",
        "What does the image show? Answer in one sentence.",
        "Write a one-sentence description of the picture.",
        "Provide a short caption for the image.",
        "Caption this image briefly.",
        "Briefly, what is in this image?",
    ],
    "detailed_caption": [
        "Describe the image in detail.",
        "Give a detailed description of this image.",
        "Describe everything you see in this image.",
        "Describe this image as fully as you can.",
        "Provide a detailed description of the picture.",
        "Explain what is shown in this image in detail.",
        "Write a thorough description of the image, including the objects, their attributes and the scene.",
        "Tell me about this image in detail.",
        "Give an elaborate description of everything in the picture.",
        "What is happening in this image? Describe it in detail.",
    ],
    "classification": [
        "What is the main object in the image? Answer with its category name.",
        "Classify the image. Answer with a category name.",
        "Which category does the main object of this image belong to?",
        "What is this a picture of? Answer with a category name.",
        "Name the category of the main object in this image.",
        "Give the class of the image's main subject.",
        "What category best describes this image? Answer with its name only.",
        "Identify the main object in the image by its category name.",
        "Which class does this image show? Reply with the class name.",
        "Tell me the category of the object in the image.",
    ],
    "textvqa": [
        "Reference OCR token: {ocr} Answer the question using a single word or phrase.",
        "Reference OCR token: {ocr} Reply with a single word or a short phrase.",
        "Reference OCR token: {ocr} Give a one-word or short-phrase answer.",
        "OCR tokens in the image: {ocr} Answer briefly with a word or a short phrase.",
        "Text read in the image: {ocr} Answer with a single word or phrase.",
        "Reference OCR token: {ocr} Keep the answer to a single word or phrase.",
        "OCR reference: {ocr} Respond with just a word or a few words.",
        "Detected text: {ocr} Answer the question in as few words as possible.",
        "Reference OCR token: {ocr} Use one word or a short phrase to answer.",
        "OCR tokens: {ocr} State the answer only, in a word or phrase.",
    ],
    "vizwiz": [
        "When the provided information is insufficient, respond with 'Unanswerable'. "
        "Answer the question using a single word or phrase.",
        "If the image does not contain the information, answer 'Unanswerable'. Reply with a single word or a "
        "short phrase.",
        "When the question cannot be answered from the image, respond with 'Unanswerable'. Give a one-word or "
        "short-phrase answer.",
        "Answer 'Unanswerable' if the provided information is insufficient. Answer briefly with a word or a "
        "short phrase.",
        "Reply 'Unanswerable' when the image does not show the answer. Answer with a single word or phrase.",
        "If you cannot tell from the image, say 'Unanswerable'. Otherwise answer with a word or a short phrase.",
        "When the information is insufficient, respond with 'Unanswerable'. Keep the answer to a single word "
        "or phrase.",
        "Respond with 'Unanswerable' if the question cannot be answered. Use one word or a short phrase to answer.",
        "If the answer is not visible in the image, reply 'Unanswerable'. Give a very short answer.",
        "Answer with a word or short phrase, or with 'Unanswerable' when the image does not provide enough "
        "information.",
    ],
}

# Dataset tasks the papers give no verbatim prompt for.
DATASET_POOLS: dict[str, list[str]] = {
    # Key information extraction (DeepForm, KleisterCharity): {field} is the field name in words.
    "kie": [
        "What is the value for the {field}?",
        "What is the {field} in this document?",
        "Extract the {field} from the document.",
        "Give the {field} stated in the document.",
        "What does the document say the {field} is?",
        "Find the {field} in this document.",
        "Read the {field} from the document.",
        "Which value is given for the {field}?",
        "Tell me the {field} written in this document.",
        "According to the document, what is the {field}?",
    ],
    # Table fact verification (TabFact): the answer is "Yes" or "No".
    "table_fact": [
        "Is the following statement supported by the table? {statement} Answer yes or no.",
        "According to the table, is this statement true? {statement} Answer yes or no.",
        "Verify the statement against the table: {statement} Answer yes or no.",
        "Does the table support this statement? {statement} Answer yes or no.",
        "Based on the table, is the following true? {statement} Answer yes or no.",
        "Check this claim against the table: {statement} Is it supported? Answer yes or no.",
        "Is this statement entailed by the table? {statement} Answer yes or no.",
        "Statement: {statement} Does the table confirm it? Answer yes or no.",
        "Can the table verify the statement \"{statement}\"? Answer yes or no.",
        "Given the table, is this claim correct? {statement} Answer yes or no.",
    ],
    # Abstractive reading comprehension (VisualMRC): answers are full sentences.
    "sentence_qa": [
        "Answer the question with a complete sentence.",
        "Reply in one full sentence.",
        "Give a short answer written as a complete sentence.",
        "Respond with a full sentence.",
        "Write your answer as one complete sentence.",
        "Answer in a complete sentence.",
        "Give the answer as a full, grammatical sentence.",
        "Please reply with a whole sentence.",
        "Use a complete sentence for your answer.",
        "Answer with one full sentence based on the image.",
    ],
}

# OCR tasks (readers of OCR datasets and the PDF engine). Fields: ``{box}`` is a ``<region:K>``
# placeholder, ``{text}`` a quoted piece of page text.
OCR_POOLS: dict[str, list[str]] = {
    "ocr_page": [
        "Read all the text in the image.",
        "Transcribe all the text on this page in reading order.",
        "What is written in this document? Give the full text in reading order.",
        "Perform OCR on this page and output its text.",
        "Extract all of the text from this page.",
        "Write out the text of this document in reading order.",
        "Recognise and transcribe every word on this page.",
        "What text does this page contain? Transcribe it fully.",
        "Convert this page image into plain text.",
        "Read this document aloud: give all of its text in order.",
    ],
    "ocr_region": [
        "Read the text inside {box}.",
        "What text is written in the region {box}?",
        "Transcribe the text in {box}.",
        "Give the text contained in {box}.",
        "What does the text in {box} say?",
        "Recognise the text within {box}.",
        "Extract the words written inside {box}.",
        "Read out the text shown in the region {box}.",
        "Which text appears in {box}?",
        "Write down the text located at {box}.",
    ],
    "text_spotting": [
        "Detect all texts and provide their bounding box coordinates.",
        "Find every line of text in the image and give its bounding box.",
        "Spot all the text in the image: write each text line followed by its bounding box.",
        "Read every text line in the image and give its bounding box.",
        "Locate and transcribe all the text in the image, each with a bounding box.",
        "List each piece of text in the image with its bounding box.",
        "Find all text in the image; output each line and its box.",
        "Recognise all the text lines and give their bounding box coordinates.",
        "Transcribe the text in the image line by line with bounding boxes.",
        "Give each text line of the image followed by its bounding box.",
    ],
    "text_spotting_region": [
        "Detect all texts inside {box} and provide their bounding box coordinates.",
        "Find every line of text inside {box} and give its bounding box.",
        "Spot all the text in the region {box}: write each text line followed by its bounding box.",
        "Read every text line inside {box} and give its bounding box.",
        "Locate and transcribe all the text in {box}, each with a bounding box.",
        "List each piece of text in the region {box} with its bounding box.",
        "Find all text within {box}; output each line and its box.",
        "Recognise the text lines inside {box} and give their bounding box coordinates.",
        "Transcribe the text in {box} line by line with bounding boxes.",
        "Give each text line inside {box} followed by its bounding box.",
    ],
    "text_grounding": [
        "Where is the text \"{text}\"? Answer with its bounding box.",
        "Locate the text \"{text}\" in the image and give its bounding box.",
        "Please provide the bounding box coordinate of the text \"{text}\".",
        "Give the bounding box of the text \"{text}\".",
        "Find where \"{text}\" is written and answer with its bounding box.",
        "Which region contains the text \"{text}\"? Reply with its bounding box.",
        "Output the bounding box of the words \"{text}\".",
        "Locate \"{text}\" in the image. Answer with the box coordinates.",
        "Point out the text \"{text}\" with a bounding box.",
        "Where does the image say \"{text}\"? Give the bounding box.",
    ],
    "layout_blocks": [
        "Detect all layout elements in the document and provide their categories and bounding box coordinates.",
        "Find every layout block on this page and give its category and bounding box.",
        "Analyse the page layout: list each block's category with its bounding box.",
        "Give the category and bounding box of every layout block on this page.",
        "Segment this document into layout blocks: category and bounding box of each.",
        "What are the layout elements of this page? List their categories with bounding boxes.",
        "Locate the text blocks, titles, tables and figures on this page with their bounding boxes.",
        "Detect the document layout: output each block's type and box.",
        "List the regions of this page by category, each with its bounding box.",
        "Parse the page layout into categorised blocks with bounding boxes.",
    ],
    "layout_blocks_region": [
        "Detect all layout elements inside {box} and provide their categories and bounding box coordinates.",
        "Find every layout block inside {box} and give its category and bounding box.",
        "Analyse the layout inside {box}: list each block's category with its bounding box.",
        "Give the category and bounding box of every layout block inside {box}.",
        "What are the layout elements within {box}? List their categories with bounding boxes.",
        "Segment the region {box} into layout blocks: category and bounding box of each.",
        "Detect the layout inside {box}: output each block's type and box.",
        "List the blocks in {box} by category, each with its bounding box.",
        "Locate the text blocks, titles, tables and figures inside {box} with their bounding boxes.",
        "Parse the layout of {box} into categorised blocks with bounding boxes.",
    ],
}

# Set-of-Mark and multipanel tasks (sphinx-x-build-som, docs/som.md); records are about the raw image, so a
# mark is named by its box: ``{box}``, ``{a}``, ``{b}`` are ``<region:K>`` placeholders, ``{kind}`` says what
# the marks are ("object", "UI element", ...), ``{panel}`` / ``{a}`` / ``{b}`` in panel pools name a panel: "panel (b)".
SOM_POOLS: dict[str, list[str]] = {
    "som_caption": [
        "Describe the image in detail. Include the bounding box for each mentioned object.",
        "Give a detailed description of the image with a bounding box after every object you mention.",
        "What does this image show? Describe it and give the bounding box of each thing you mention.",
        "Describe this image thoroughly, giving the bounding box of every object you mention.",
        "Write a detailed description of the picture and ground each object with its bounding box.",
        "Explain what is in the image in detail, adding a bounding box after each named object.",
        "Provide an elaborate description of the scene with bounding boxes for the objects mentioned.",
        "Tell me about this image in detail; follow every object you name with its bounding box.",
        "Give a thorough, grounded description of the image: each mentioned object with its bounding box.",
        "Describe everything in the image, and give the bounding box of each thing you mention.",
    ],
    "som_relation": [
        "What is the relation between {a} and {b}?",
        "How is {a} related to {b}?",
        "Describe how {a} and {b} relate to each other.",
        "What relationship is there between {a} and {b}?",
        "Explain the relation of {a} to {b}.",
        "How do {a} and {b} relate?",
        "Describe the relationship between {a} and {b}.",
        "In what way is {a} connected to {b}?",
        "What is {a} doing with respect to {b}?",
        "Tell me how {a} relates to {b}.",
    ],
    "som_list": [
        "List every {kind} in the image with its name and bounding box.",
        "Find all the {kind}s in the image and give each one's name and bounding box.",
        "Name each {kind} you can see and give its bounding box.",
        "Give the name and bounding box of each {kind} in the image.",
        "Which {kind}s are in the image? List each with its name and bounding box.",
        "Enumerate the {kind}s in the image with names and bounding boxes.",
        "List all {kind}s you can see, each with its name and box.",
        "Identify every {kind} in the image: its name and bounding box.",
        "Find each {kind} in this picture and give its name and bounding box.",
        "Output every {kind} in the image as a name followed by its bounding box.",
    ],
    "som_count": [
        "How many {category} are there in the image? Answer with a number.",
        "Count the {category} in the image. Answer with a number.",
        "What is the number of {category} in this image?",
        "How many {category} can you see? Answer with a number.",
        "Give the number of {category} in the image.",
        "Count how many {category} appear in the picture. Reply with a number.",
        "What is the count of {category} in the image? Answer with a number.",
        "How many {category} does the image contain?",
        "Tell me how many {category} are visible. Answer with a number.",
        "Number of {category} in this image? Reply with a number only.",
    ],
    "som_region_name": [
        "What is the {kind} at {box}? Answer with its name.",
        "Name the {kind} in the region {box}.",
        "Which {kind} is shown at {box}? Give its name only.",
        "Identify the {kind} at {box}. Answer with its name.",
        "What is the name of the {kind} in {box}?",
        "Tell me which {kind} is located at {box}.",
        "What {kind} appears in the region {box}? Reply with its name.",
        "Give the name of the {kind} shown at {box}.",
        "Which {kind} is inside {box}? Answer with its name only.",
        "What do you call the {kind} at {box}?",
    ],
    "panel_count": [
        "How many panels does this figure have?",
        "How many sub-images are in this picture? Answer with a number.",
        "Count the panels in this figure. Answer with a number.",
        "How many separate panels are in the image?",
        "What is the number of panels in this figure? Reply with a number.",
        "How many sub-figures does this image contain?",
        "Tell me how many panels the figure is made of. Answer with a number.",
        "Count the sub-images in this picture.",
        "How many parts is this figure divided into? Answer with a number.",
        "Give the number of panels in the figure.",
    ],
    "panel_which": [
        "Which panel shows {thing}? Answer with the panel label.",
        "In which panel can you see {thing}? Answer with its label.",
        "Which panel contains {thing}? Reply with its label.",
        "In which sub-image is {thing} shown? Answer with the panel label.",
        "Find the panel with {thing}. Give its label.",
        "Which sub-figure shows {thing}? Answer with its label only.",
        "Where is {thing} shown? Answer with the label of the panel.",
        "Tell me the label of the panel showing {thing}.",
        "Which part of the figure has {thing}? Reply with the panel label.",
        "Name the panel in which {thing} appears.",
    ],
    "panel_caption": [
        "Describe {panel}.",
        "What is shown in {panel}?",
        "Give a short description of {panel}.",
        "Describe the content of {panel}.",
        "What can be seen in {panel}?",
        "Write a short caption for {panel}.",
        "Briefly describe {panel}.",
        "Explain what {panel} shows.",
        "Summarise {panel} in a sentence.",
        "Tell me what is in {panel}.",
    ],
    "panel_compare": [
        "Which panel shows more {thing}: {a} or {b}? Answer with the panel label.",
        "Compare {a} and {b}: which one has more {thing}? Answer with the panel label.",
        "Which has more {thing}, {a} or {b}? Answer with the panel label.",
        "Between {a} and {b}, which panel contains more {thing}? Reply with its label.",
        "Does {a} or {b} show more {thing}? Answer with the panel label.",
        "Compare the number of {thing} in {a} and {b}: which has more? Give the panel label.",
        "Which of {a} and {b} has the larger number of {thing}? Answer with its label.",
        "Look at {a} and {b}. Which one shows more {thing}? Reply with the panel label.",
        "More {thing} appear in which panel, {a} or {b}? Answer with its label.",
        "Tell me which panel, {a} or {b}, contains more {thing}. Answer with the label.",
    ],
    "panel_locate": [
        "In {panel}, where is the {thing}? Answer with its bounding box.",
        "Locate the {thing} in {panel} and give its bounding box.",
        "Where is the {thing} in {panel}? Give its bounding box.",
        "Find the {thing} in {panel} and answer with its bounding box.",
        "Give the bounding box of the {thing} in {panel}.",
        "Locate the {thing} shown in {panel}. Answer with a bounding box.",
        "Which region of {panel} holds the {thing}? Reply with its bounding box.",
        "Output the bounding box of the {thing} in {panel}.",
        "Point out the {thing} in {panel} with a bounding box.",
        "In {panel}, find the {thing} and give its box coordinates.",
    ],
    "panel_relation": [
        "How does {a} relate to {b}?",
        "Compare {a} with {b}.",
        "What is the relation between {a} and {b}?",
        "How do {a} and {b} differ?",
        "Describe how {a} and {b} are related.",
        "What do {a} and {b} have in common, and how are they different?",
        "Explain the connection between {a} and {b}.",
        "Contrast {a} with {b}.",
        "How is {a} related to {b}?",
        "Tell me how {a} and {b} relate to each other.",
    ],
}


# MMInstruct's four question types (sphinx-x-build-instruct, docs/mminstruct.md): the question, then the type
# hint (the paper's verbatim hint first). ``{options}`` is the options block (OPTIONS_HEADER, "A. ..." lines).
MMINSTRUCT_POOLS: dict[str, list[str]] = {
    "mmi_judgement": [
        "{question} Please answer with 'Yes' or 'No'.",
        "{question} Answer with 'Yes' or 'No'.",
        "{question} Reply Yes or No.",
        "{question} Answer yes or no.",
        "{question} Please reply with 'Yes' or 'No'.",
        "{question} Respond with 'Yes' or 'No' only.",
        "{question} Is that true? Answer 'Yes' or 'No'.",
        "{question} Give a yes/no answer.",
        "{question} Answer with a single word: Yes or No.",
        "{question} Please answer 'Yes' or 'No'.",
    ],
    "mmi_choice": [
        "{question}\n{options}\nChoose the correct option.",
        "{question}\n{options}\nPick the right option.",
        "{question}\n{options}\nWhich option is correct?",
        "{question}\n{options}\nSelect the correct option.",
        "{question}\n{options}\nChoose the right answer from the options.",
        "{question}\n{options}\nWhich of the options is right?",
        "{question}\n{options}\nPick the correct choice.",
        "{question}\n{options}\nChoose one of the options.",
        "{question}\n{options}\nSelect the best answer.",
        "{question}\n{options}\nChoose the option that answers the question correctly.",
    ],
    "mmi_short": [
        "{question} Answer concisely.",
        "{question} Give a short answer.",
        "{question} Answer in a few words.",
        "{question} Answer briefly.",
        "{question} Keep the answer short.",
        "{question} Reply concisely.",
        "{question} A short answer, please.",
        "{question} Answer with a short phrase.",
        "{question} Be concise.",
        "{question} Give a brief answer.",
    ],
    "mmi_long": [
        "{question} Provide an extensive response.",
        "{question} Answer in detail.",
        "{question} Give a thorough, detailed answer.",
        "{question} Give a detailed answer.",
        "{question} Explain in detail.",
        "{question} Answer thoroughly.",
        "{question} Provide a comprehensive response.",
        "{question} Please answer at length, with details.",
        "{question} Write a detailed response.",
        "{question} Elaborate in your answer.",
    ],
}


def _register(*groups: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The groups' pools in one dict; a task registered twice is an error (one pool per task)."""
    pools: dict[str, list[str]] = {}
    for group in groups:
        if twice := sorted(set(pools) & set(group)):
            raise ValueError(f"prompt pools registered twice: {twice}")
        pools.update(group)
    return pools


DEFAULT_POOLS: dict[str, list[str]] = _register(PAPER_POOLS, DATASET_POOLS, OCR_POOLS, SOM_POOLS,
                                                     MMINSTRUCT_POOLS)


class PromptPool:
    """Chooses an instruction for a task, deterministically from ``(seed, key)``; ``pools`` are added
    to (and override) the registry :data:`DEFAULT_POOLS`."""

    def __init__(self, pools: Mapping[str, list[str]] | None = None, seed: int = 0, fixed: bool = False):
        self.pools = {**DEFAULT_POOLS, **{k: list(v) for k, v in (pools or {}).items()}}
        for task, pool in self.pools.items():
            if not pool:
                raise ValueError(f"prompt pool for task {task!r} is empty")
        self.seed = seed
        self.fixed = fixed

    def pick(self, task: str, key: str = "", **fields: str) -> str:
        """The chosen prompt for ``task`` with ``{fields}`` filled in."""
        if task not in self.pools:
            raise KeyError(f"no prompt pool for task {task!r}; known: {sorted(self.pools)}")
        pool = self.pools[task]
        index = 0 if self.fixed else _stable_hash(f"{self.seed}:{task}:{key}") % len(pool)
        return pool[index].format(**fields) if fields else pool[index]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")

"""The judge prompts, worded as the official scripts word them.

- MM-Vet (``mm-vet_evaluator.py`` of yuweihao/MM-Vet, also ``light-eval/prompt/MMVet_prompt.txt`` of the
  SPHINX authors' LLaMA2-Accessory): the few-shot grading table; the query is the prompt, a newline and
  ``question | ground truth (with " <AND> " / " <OR> " spaced) | prediction | `` left for the score.
- LLaVA-Bench (in-the-wild) (``llava/eval/table/rule.json`` of haotian-liu/LLaVA, rules
  ``llava_bench_{conv,detail,complex}``, the same text for all three; ``eval_gpt_review_bench.py``):
  the system message, then ``[Context]``, ``[Question]``, ``[Assistant 1]`` (GPT-4's reference
  answer), ``[Assistant 2]`` (the model) and ``[System]`` with the rule.
- MathVista (``evaluation/prompts/ext_ans.py`` of lupantech/MathVista): five worked extraction examples,
  then the problem's query, the model's response and "Extracted answer: ".
"""

from __future__ import annotations

MMVET_PROMPT = (
    "Compare the ground truth and prediction from AI models, to give a correctness score for the"
    " prediction. <AND> in the ground truth means it is totally right only when all elements in the"
    " ground truth are present in the prediction, and <OR> means it is totally right when any one element"
    " in the ground truth is present in the prediction. The correctness score is 0.0 (totally wrong),"
    " 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last space"
    " of the correctness score.\n"
    "\n"
    "Question | Ground truth | Prediction | Correctness\n"
    "--- | --- | --- | ---\n"
    "What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5\n"
    "What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0\n"
    "Can you explain this meme? | This meme is poking fun at the fact that the names of the countries"
    " Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green"
    " landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person"
    " has trust issues because the names of these countries do not accurately represent their landscapes."
    " | The meme talks about Iceland and Greenland. It's pointing out that despite their names, Iceland"
    " is not very icy and Greenland isn't very green. | 0.4\n"
    "Can you explain this meme? | This meme is poking fun at the fact that the names of the countries"
    " Iceland and Greenland are misleading. Despite its name, Iceland is known for its beautiful green"
    " landscapes, while Greenland is mostly covered in ice and snow. The meme is saying that the person"
    " has trust issues because the names of these countries do not accurately represent their landscapes."
    " | The meme is using humor to point out the misleading nature of Iceland's and Greenland's names."
    " Iceland, despite its name, has lush green landscapes while Greenland is mostly covered in ice and"
    " snow. The text 'This is why I have trust issues' is a playful way to suggest that these"
    " contradictions can lead to distrust or confusion. The humor in this meme is derived from the"
    " unexpected contrast between the names of the countries and their actual physical characteristics. |"
    " 1.0\n"
)
MMVET_RETRY_SUFFIX = "\nPredict the correctness of the answer (digit): "

LLAVA_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
LLAVA_ROLE = "Assistant"
LLAVA_RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to the"
    " user question displayed above. The user asks the question on observing an image. For your"
    " reference, the visual content in the image is represented with a few sentences describing the"
    " image. \n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each"
    " assistant receives an overall score on a scale of 1 to 10, where a higher score indicates better"
    " overall performance.\n"
    "Please first output a single line containing only two values indicating the scores for Assistant 1"
    " and 2, respectively. The two scores are separated by a space.\n"
    "In the subsequent line, please provide a comprehensive explanation of your evaluation, avoiding any"
    " potential bias and ensuring that the order in which the responses were presented does not affect"
    " your judgment."
)
LLAVA_RULES = {f"llava_bench_{category}": LLAVA_RULE for category in ("conv", "detail", "complex")}

MATHVISTA_EXTRACTION_PROMPT = """
Please read the following example. Then extract the answer from the model response and type it at the end of the prompt.

Hint: Please answer the question requiring an integer answer and provide the final value, e.g., 1, 2, 3, at the end.
Question: Which number is missing?

Model response: The number missing in the sequence is 14.

Extracted answer: 14

Hint: Please answer the question requiring a floating-point number with one decimal place and provide the final value, e.g., 1.2, 1.3, 1.4, at the end.
Question: What is the fraction of females facing the camera?

Model response: The fraction of females facing the camera is 0.6, which means that six out of ten females in the group are facing the camera.

Extracted answer: 0.6

Hint: Please answer the question requiring a floating-point number with two decimal places and provide the final value, e.g., 1.23, 1.34, 1.45, at the end.
Question: How much money does Luca need to buy a sour apple candy and a butterscotch candy? (Unit: $)

Model response: Luca needs $1.45 to buy a sour apple candy and a butterscotch candy.

Extracted answer: 1.45

Hint: Please answer the question requiring a Python list as an answer and provide the final list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.
Question: Between which two years does the line  graph saw its maximum peak?

Model response: The line graph saw its maximum peak between 2007 and 2008.

Extracted answer: [2007, 2008]

Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.
Question: What fraction of the shape is blue?
Choices:
(A) 3/11
(B) 8/11
(C) 6/11
(D) 3/5

Model response: The correct answer is (B) 8/11.

Extracted answer: B
"""  # noqa: E501  (the official wording, line for line)


def mmvet_query(question: str, answer: str, prediction: str, retry: bool = False) -> str:
    """MM-Vet's grading query: the prompt, then ``question | answer | prediction | `` (the score's cell left empty)."""
    answer = answer.replace("<AND>", " <AND> ").replace("<OR>", " <OR> ")
    query = MMVET_PROMPT + "\n" + " | ".join([question, answer, prediction, ""])
    return query + MMVET_RETRY_SUFFIX if retry else query


def llava_review(context: str, question: str, reference: str, answer: str, rule: str, role: str = LLAVA_ROLE) -> str:
    """LLaVA-Bench's review request: GPT-4's reference is Assistant 1, the model Assistant 2."""
    return (f"[Context]\n{context}\n\n"
            f"[Question]\n{question}\n\n"
            f"[{role} 1]\n{reference}\n\n[End of {role} 1]\n\n"
            f"[{role} 2]\n{answer}\n\n[End of {role} 2]\n\n"
            f"[System]\n{rule}\n\n")


def mathvista_extraction(query: str, response: str) -> str:
    """MathVista's extraction request: the worked examples, the query, the response, "Extracted answer: "."""
    return f"{MATHVISTA_EXTRACTION_PROMPT.strip()}\n\n{query}\n\n{response}\n\nExtracted answer: "

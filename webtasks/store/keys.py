"""Where each object of a run lives in the store: one place, so readers and writers agree."""


def attempt_object(web_task_id: str, attempt: int, name: str) -> str:
    return f"runs/{web_task_id}/attempts/{attempt}/{name}"


def run_file(web_task_id: str, file_id: str) -> str:
    return f"runs/{web_task_id}/files/{file_id}"


def delivered_result(web_task_id: str) -> str:
    return f"runs/{web_task_id}/result.json"

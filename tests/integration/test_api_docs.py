"""/api/docs: schemas/openapi.yaml as a page people read, without JavaScript."""

from __future__ import annotations

import lxml.html
import yaml
from aiohttp.test_utils import TestClient

from broker.web.docs import OPENAPI, anchor


async def test_the_page_shows_every_operation_with_its_roles_and_schemas(
        served: TestClient) -> None:
    response = await served.get("/api/docs")
    assert response.status == 200 and response.content_type == "text/html"
    doc = lxml.html.fromstring(await response.text())
    assert not doc.xpath("//script")
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    for path, item in spec["paths"].items():
        for method in ("get", "post", "delete"):
            if method in item:
                [op] = doc.xpath(f"//article[@id='{anchor(method, path)}']")
                assert op.xpath(".//code/text()")[0] == path
                assert item[method]["summary"] in op.text_content()
    # Every link on the page leads somewhere on it (or to the document itself).
    ids = set(doc.xpath("//@id"))
    for href in doc.xpath("//a/@href"):
        assert href[1:] in ids if href.startswith("#") else True, href
    one = doc.xpath(f"//article[@id='{anchor('get', '/api/requests/{request_id}')}']")[0]
    text = " ".join(one.text_content().split())
    assert "Who may call it: lender staff, home staff, coordinator, patron" in text
    assert "request_id (path, required)" in text
    assert one.xpath(".//a[@href='#schema-request']/text()") == ["Request"]
    [schema] = doc.xpath("//article[@id='schema-request']")
    assert "id (required): string — ILL-XXXX-XXXX" in " ".join(schema.text_content().split())
    steps = doc.xpath(f"//article[@id='{anchor('post', '/api/requests/{request_id}/steps')}']")
    assert "Request body (required)" in steps[0].text_content()


async def test_the_footer_links_to_it(served: TestClient) -> None:
    doc = lxml.html.fromstring(await (await served.get("/")).text())
    assert doc.xpath("//footer//a[@href='/api/docs']")

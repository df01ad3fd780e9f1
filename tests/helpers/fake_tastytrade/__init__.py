"""A local fake of the tastytrade API (REST and DXLink) served in process to the real SDK.

`app` wires it (`FakeTastytrade`), `rest` and `dxlink` render what it sends,
`faults` holds what a test can break, `scenario` what it serves, `checks`
what the tests assert about leaked credentials.
"""

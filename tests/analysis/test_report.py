"""report.html: self-contained, and the user's text escaped."""

from stochlstm.analysis.report import write_report
from tests.summary_reference import small_run


def test_report_is_self_contained_and_escapes_user_text(tmp_path):
    run_dir = small_run(
        tmp_path / "run",
        seeds=20,
        hidden_size=2,
        steps=6,
        description='Gates <script>alert("x")</script> & friends',
    )
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "Gates &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in page
    assert '<table class="dataframe comparison">' in page
    assert page.count('src="data:image/png;base64,') == 6  # the figures were drawn first
    assert "20 (0 … 19)" in page and ">complete<" in page and "forget-bernoulli" in page
    assert (run_dir / "figures" / "survival.png").exists()

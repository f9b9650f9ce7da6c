package readme

import "testing"

func TestBlocks(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"text\n```sh\ncurl x\n``` A trusted front end\nmore\n",
		"```sh\ncurl x\n",
	} {
		if _, err := Blocks(bad); err == nil {
			t.Errorf("Blocks(%q) took a broken fence", bad)
		}
	}
	got, err := Blocks("intro\n<!-- readme-test: skip (why) -->\n\n```sh\na=1\n```\ntext\n```json\n{}\n```\n")
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v, %v", got, err)
	}
	if b := got[0]; b.Lang != "sh" || b.Mark != "skip (why)" || b.Body != "a=1\n" || b.Line != 4 {
		t.Errorf("first block %+v", b)
	}
	if b := got[1]; b.Lang != "json" || b.Mark != "" || b.Body != "{}\n" || b.Line != 8 {
		t.Errorf("second block %+v", b)
	}
}

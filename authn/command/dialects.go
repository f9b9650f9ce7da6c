package command

import (
	"errors"
	"net/http"

	"github.com/keyward/keyward/authn"
)

// Dialects serves both dialects on one path, as Octeth's api.php and the
// WMD SED API's api.php share a name: a request with a c parameter and no
// Command goes to wmd, every other to octeth. Each API keeps its own
// configuration (wmd's Credentials, say). The two must be of one
// Authenticator, and of the dialects their names say.
func Dialects(octeth, wmd *API) (http.Handler, error) {
	switch {
	case octeth == nil || wmd == nil:
		return nil, errors.New("command: Dialects needs two APIs")
	case octeth.cfg.Dialect != Octeth || wmd.cfg.Dialect != WMD:
		return nil, errors.New("command: Dialects takes an Octeth API, then a WMD one")
	case octeth.auth != wmd.auth:
		return nil, errors.New("command: Dialects needs two APIs of one Authenticator")
	}
	return dialects{octeth, wmd}, nil
}

type dialects struct{ octeth, wmd *API }

func (d dialects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r == nil {
		authn.WriteJSONError(w, r, authn.ErrBadRequest)
		return
	}
	// The parameters are read once, and both APIs read them from the
	// same Request: the body is not read twice.
	req := d.octeth.auth.Request(r)
	params, err := req.Params()
	if err != nil {
		d.octeth.fail(w, r, params, err)
		return
	}
	api := d.octeth
	if params.Has(WMD.commandParam()) && !params.Has(Octeth.commandParam()) {
		api = d.wmd
	}
	api.serve(w, r, req, params)
}

package arm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode"
)

// readBody reads the request body, which ServeHTTP has bounded by
// maxBodyBytes with http.MaxBytesReader.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return nil, errTooLarge(maxBodyBytes)
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errTooLarge(maxBodyBytes)
		}
		return nil, &apiError{
			status:  http.StatusBadRequest,
			code:    "InvalidRequestContent",
			message: "The request content could not be read.",
			cause:   err,
		}
	}
	return data, nil
}

// decodeBody decodes the request body, one JSON value, into v. An empty body
// leaves v as it is. Unknown fields are ignored, as ARM ignores them (clients
// send back whole resources, read-only properties included).
func decodeBody(r *http.Request, v any) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(data, v)
}

// decodeJSON decodes data into v, turning decoder errors into
// InvalidRequestContent with a short, safe detail.
func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return errInvalidContent(jsonErrorDetail(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalidContent(fmt.Sprintf("unexpected data after the JSON value at offset %d", dec.InputOffset()))
	}
	return nil
}

func jsonErrorDetail(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at offset %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("a JSON %s cannot be used here", typ.Value)
		}
		return fmt.Sprintf("a JSON %s cannot be used for property '%s'", typ.Value, clip(typ.Field))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of JSON input"
	}
	return "malformed JSON"
}

func isControlOrSpace(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }

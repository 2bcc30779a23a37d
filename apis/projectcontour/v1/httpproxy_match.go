package v1

// MatchCondition is one rule a request must satisfy. Exactly one of its
// fields should be set; the conditions of a route (and of the includes
// leading to it) are ANDed together.
type MatchCondition struct {
	// Prefix matches requests whose path starts with this value.
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Exact matches requests whose path equals this value. Not allowed
	// on includes.
	// +optional
	Exact string `json:"exact,omitempty"`

	// Regex matches requests whose whole path matches this regular
	// expression. Not allowed on includes.
	// +optional
	Regex string `json:"regex,omitempty"`

	// Header matches on a request header.
	// +optional
	Header *HeaderMatchCondition `json:"header,omitempty"`

	// QueryParameter matches on a query parameter.
	// +optional
	QueryParameter *QueryParameterMatchCondition `json:"queryParameter,omitempty"`
}

// HeaderMatchCondition matches a request header by name. Besides Name,
// exactly one of Present, NotPresent, Contains, NotContains, Exact,
// NotExact and Regex should be set.
type HeaderMatchCondition struct {
	// Name of the header; compared case-insensitively.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Present matches when the header is there, whatever its value.
	// +optional
	Present bool `json:"present,omitempty"`

	// NotPresent matches when the header is absent.
	// +optional
	NotPresent bool `json:"notpresent,omitempty"`

	// Contains matches when the value contains this substring.
	// +optional
	Contains string `json:"contains,omitempty"`

	// NotContains matches when the value does not contain this substring.
	// +optional
	NotContains string `json:"notcontains,omitempty"`

	// IgnoreCase compares values case-insensitively (no effect on Regex).
	// +optional
	IgnoreCase bool `json:"ignoreCase,omitempty"`

	// Exact matches when the value equals this string.
	// +optional
	Exact string `json:"exact,omitempty"`

	// NotExact matches when the value differs from this string.
	// +optional
	NotExact string `json:"notexact,omitempty"`

	// Regex matches when the whole value matches this regular expression.
	// +optional
	Regex string `json:"regex,omitempty"`

	// TreatMissingAsEmpty evaluates a missing header as an empty value.
	// Only meaningful for the negative matches NotContains and NotExact.
	// +optional
	TreatMissingAsEmpty bool `json:"treatMissingAsEmpty,omitempty"`
}

// QueryParameterMatchCondition matches a query parameter by name. Besides
// Name, exactly one of Exact, Prefix, Suffix, Regex, Contains and Present
// should be set.
type QueryParameterMatchCondition struct {
	// Name of the query parameter.
	Name string `json:"name"`

	// Exact matches when the value equals this string.
	// +optional
	Exact string `json:"exact,omitempty"`

	// Prefix matches when the value starts with this string.
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Suffix matches when the value ends with this string.
	// +optional
	Suffix string `json:"suffix,omitempty"`

	// Regex matches when the whole value matches this regular expression.
	// +optional
	Regex string `json:"regex,omitempty"`

	// Contains matches when the value contains this substring.
	// +optional
	Contains string `json:"contains,omitempty"`

	// IgnoreCase compares values case-insensitively (no effect on Regex).
	// +optional
	IgnoreCase bool `json:"ignoreCase,omitempty"`

	// Present matches when the parameter is there, whatever its value.
	// +optional
	Present bool `json:"present,omitempty"`
}

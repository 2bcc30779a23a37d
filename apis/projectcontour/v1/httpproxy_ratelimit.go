package v1

// RateLimitPolicy limits request rates, locally in each proxy, through an
// external rate limit service, or both.
type RateLimitPolicy struct {
	// Local limits are enforced by each proxy on its own.
	// +optional
	Local *LocalRateLimitPolicy `json:"local,omitempty"`

	// Global limits are decided by an external rate limit service from
	// the descriptors sent with each request.
	// +optional
	Global *GlobalRateLimitPolicy `json:"global,omitempty"`
}

// LocalRateLimitPolicy is a token bucket kept by each proxy.
type LocalRateLimitPolicy struct {
	// Requests allowed per Unit.
	// +required
	// +kubebuilder:validation:Minimum=1
	Requests uint32 `json:"requests"`

	// Unit of time: second, minute or hour.
	// +required
	// +kubebuilder:validation:Enum=second;minute;hour
	Unit string `json:"unit"`

	// Burst is how many requests beyond the rate are allowed in a short
	// spike.
	// +optional
	Burst uint32 `json:"burst,omitempty"`

	// ResponseStatusCode answers limited requests; 429 when unset.
	// +optional
	// +kubebuilder:validation:Minimum=400
	// +kubebuilder:validation:Maximum=599
	ResponseStatusCode uint32 `json:"responseStatusCode,omitempty"`

	// ResponseHeadersToAdd are set on responses to limited requests.
	// +optional
	ResponseHeadersToAdd []HeaderValue `json:"responseHeadersToAdd,omitempty"`
}

// GlobalRateLimitPolicy lists the descriptors sent to the rate limit
// service.
type GlobalRateLimitPolicy struct {
	// Disabled opts out of the controller-wide default global policy.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Descriptors are generated for each request; each holds one or more
	// entries.
	// +optional
	// +kubebuilder:validation:MinItems=1
	Descriptors []RateLimitDescriptor `json:"descriptors,omitempty"`
}

// RateLimitDescriptor is an ordered list of entries.
type RateLimitDescriptor struct {
	// Entries generate the key/value pairs of the descriptor.
	// +required
	// +kubebuilder:validation:MinItems=1
	Entries []RateLimitDescriptorEntry `json:"entries,omitempty"`
}

// RateLimitDescriptorEntry generates one key/value pair. Exactly one field
// must be set.
type RateLimitDescriptorEntry struct {
	// GenericKey is a fixed key and value.
	// +optional
	GenericKey *GenericKeyDescriptor `json:"genericKey,omitempty"`

	// RequestHeader takes its value from a request header, and is left
	// out when the header is missing.
	// +optional
	RequestHeader *RequestHeaderDescriptor `json:"requestHeader,omitempty"`

	// RequestHeaderValueMatch yields a fixed value, under the key
	// "header_match", when the request headers match.
	// +optional
	RequestHeaderValueMatch *RequestHeaderValueMatchDescriptor `json:"requestHeaderValueMatch,omitempty"`

	// RemoteAddress yields the client address under the key
	// "remote_address".
	// +optional
	RemoteAddress *RemoteAddressDescriptor `json:"remoteAddress,omitempty"`
}

// GenericKeyDescriptor is a fixed descriptor entry.
type GenericKeyDescriptor struct {
	// Key of the entry; "generic_key" when empty.
	// +optional
	Key string `json:"key,omitempty"`

	// Value of the entry.
	// +required
	// +kubebuilder:validation:MinLength=1
	Value string `json:"value,omitempty"`
}

// RequestHeaderDescriptor copies a request header into a descriptor
// entry.
type RequestHeaderDescriptor struct {
	// HeaderName is the request header read.
	// +required
	// +kubebuilder:validation:MinLength=1
	HeaderName string `json:"headerName,omitempty"`

	// DescriptorKey is the key of the entry.
	// +required
	// +kubebuilder:validation:MinLength=1
	DescriptorKey string `json:"descriptorKey,omitempty"`
}

// RequestHeaderValueMatchDescriptor yields a fixed entry depending on
// whether the request headers match.
type RequestHeaderValueMatchDescriptor struct {
	// Headers are the match criteria, all of which must hold.
	// +kubebuilder:validation:MinItems=1
	Headers []HeaderMatchCondition `json:"headers,omitempty"`

	// No omitempty on purpose: an explicit false must survive a round
	// trip, or the API server would default it back to true.

	// ExpectMatch yields the entry when the headers match (true, the
	// default) or when they do not (false).
	// +optional
	// +kubebuilder:default=true
	ExpectMatch bool `json:"expectMatch"`

	// Value of the entry.
	// +required
	// +kubebuilder:validation:MinLength=1
	Value string `json:"value,omitempty"`
}

// RemoteAddressDescriptor yields the client address as a descriptor
// entry. It has no fields.
type RemoteAddressDescriptor struct{}

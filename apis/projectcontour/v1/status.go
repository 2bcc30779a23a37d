package v1

// Values of HTTPProxyStatus.CurrentStatus.
const (
	// StatusValid: the proxy was accepted and is being served.
	StatusValid = "valid"
	// StatusInvalid: the proxy has at least one error; see the Valid
	// condition's errors.
	StatusInvalid = "invalid"
	// StatusOrphaned: the proxy is a child that no root includes.
	StatusOrphaned = "orphaned"
	// StatusNotReconciled is the CRD default, shown until a controller
	// has written a status.
	StatusNotReconciled = "NotReconciled"
)

// Descriptions and messages written with the status values above.
const (
	// DescriptionValid is the description (and Valid message) of an
	// accepted proxy.
	DescriptionValid = "Valid HTTPProxy"
	// DescriptionNotReconciled is the CRD default description.
	DescriptionNotReconciled = "Waiting for controller"
	// DescriptionOrphaned is the description of an orphaned proxy.
	DescriptionOrphaned = "this HTTPProxy is not part of a delegation chain from a root HTTPProxy"
	// MessageErrorPresent is the Valid condition's message when it has
	// errors.
	MessageErrorPresent = "At least one error present, see Errors for details"
)

// ConditionTypeValid is the type of the condition the controller owns.
const ConditionTypeValid = "Valid"

// Reasons of the Valid condition itself.
const (
	ReasonValid        = "Valid"
	ReasonErrorPresent = "ErrorPresent"
)

// Types of error and warning sub-conditions. The type says which part of
// the object is wrong; the reason says what is wrong with it.
const (
	ConditionTypeAuthError            = "AuthError"
	ConditionTypeCORSError            = "CORSError"
	ConditionTypeIPFilterError        = "IPFilterError"
	ConditionTypeIncludeError         = "IncludeError"
	ConditionTypeJWTVerificationError = "JWTVerificationError"
	ConditionTypeListenerError        = "ListenerError"
	ConditionTypeOrphanedError        = "Orphaned"
	ConditionTypePrefixReplaceError   = "PrefixReplaceError"
	ConditionTypeRootNamespaceError   = "RootNamespaceError"
	ConditionTypeRouteError           = "RouteError"
	ConditionTypeServiceError         = "ServiceError"
	ConditionTypeSpecError            = "SpecError"
	ConditionTypeTCPProxyError        = "TCPProxyError"
	ConditionTypeTCPProxyIncludeError = "TCPProxyIncludeError"
	ConditionTypeTLSError             = "TLSError"
	ConditionTypeVirtualHostError     = "VirtualHostError"
)

// Reasons of error and warning sub-conditions, as users know them from
// Contour.
const (
	ReasonDelegationNotPermitted                = "DelegationNotPermitted"
	ReasonDuplicateMatchConditions              = "DuplicateMatchConditions"
	ReasonDuplicateVhost                        = "DuplicateVhost"
	ReasonFeatureNotSupported                   = "FeatureNotSupported"
	ReasonFQDNNotSpecified                      = "FQDNNotSpecified"
	ReasonHeaderMatchConditionsNotValid         = "HeaderMatchConditionsNotValid"
	ReasonIgnoredField                          = "IgnoredField"
	ReasonIncludeCreatesCycle                   = "IncludeCreatesCycle"
	ReasonIncludeNotFound                       = "IncludeNotFound"
	ReasonNothingDefined                        = "NothingDefined"
	ReasonOnlyOneMirror                         = "OnlyOneMirror"
	ReasonOrphaned                              = "Orphaned"
	ReasonPathMatchConditionsNotValid           = "PathMatchConditionsNotValid"
	ReasonQueryParameterMatchConditionsNotValid = "QueryParameterMatchConditionsNotValid"
	ReasonRetryPolicyNotValid                   = "RetryPolicyNotValid"
	ReasonRootIncludesRoot                      = "RootIncludesRoot"
	ReasonRootProxyNotAllowedInNamespace        = "RootProxyNotAllowedInNamespace"
	ReasonRouteActionCountNotValid              = "RouteActionCountNotValid"
	ReasonSecretNotValid                        = "SecretNotValid"
	ReasonServicePortInvalid                    = "ServicePortInvalid"
	ReasonServiceUnresolvedReference            = "ServiceUnresolvedReference"
	ReasonTimeoutPolicyNotValid                 = "TimeoutPolicyNotValid"
	ReasonTLSConfigNotValid                     = "TLSConfigNotValid"
	ReasonTLSMustBeConfigured                   = "TLSMustBeConfigured"
)

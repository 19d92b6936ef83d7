/** Shapes of the account API's answers: aliases of the OpenAPI document's types ($lib/api/types). */
import type { ApiResponse } from '$lib/api/types';

export type Me = ApiResponse<'/api/v1/me'>;

/** A privacy policy or terms version (modules/privacy). */
export type Policy = ApiResponse<'/api/v1/privacy/policies'>['policies'][number];

export type SignInResponse = ApiResponse<'/api/v1/auth/login', 'post'>;

/** A workspace as the caller sees it, with what their role allows there (`permissions`). */
export type Workspace = ApiResponse<'/api/v1/workspaces'>['workspaces'][number];

export type Permission = Workspace['permissions'][number];

/** A workspace invitation addressed to the signed-in person. */
export type PendingInvitation = ApiResponse<'/api/v1/workspaces/invitations/mine'>['invitations'][number];

/** What an invitation link offers. */
export type InvitationPreview = ApiResponse<'/api/v1/workspaces/invitations/preview', 'post'>;

export type AuthOptions = ApiResponse<'/api/v1/auth/options'>;

export type PasswordVerdict = ApiResponse<'/api/v1/auth/password/check', 'post'>;

export type PasswordRule = NonNullable<PasswordVerdict['rule']>;

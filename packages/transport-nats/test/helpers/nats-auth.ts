import {
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  type KeyPair,
  type User,
} from "@nats-io/jwt";

/**
 * Decentralized NATS auth (operator mode) made without the `nsc` tool: an operator, one account
 * signed by it, and users signed by the account, each as a `.creds` file (user JWT + NKey seed).
 */
export interface DecentralizedAuth {
  /** nats-server configuration: trust the operator, and know the account (memory resolver). */
  readonly config: string;
  /** A `.creds` file of a user of the account with the permissions the hub needs (see the README). */
  readonly hubCreds: string;
  /** A `.creds` file of a user of the account with the permissions a client needs (see the README). */
  readonly clientCreds: string;
  /** A `.creds` file of a well-formed user of an account this server does not know. */
  readonly strangerCreds: string;
  /** The client user's JWT with another user's seed: the signature of the server's nonce is wrong. */
  readonly mismatchedCreds: string;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1 } as const;

/** The NATS permissions of the README's "Subjects" section, for the default prefix `distsync`. */
export const HUB_PERMISSIONS: Partial<User> = {
  pub: { allow: ["distsync.hub.connect", "distsync.client.>", "_INBOX.>"], deny: [] },
  sub: { allow: ["distsync.hub.>", "_INBOX.>"], deny: [] },
};
export const CLIENT_PERMISSIONS: Partial<User> = {
  pub: { allow: ["distsync.hub.>"], deny: [] },
  sub: { allow: ["distsync.client.>", "_INBOX.>"], deny: [] },
};

export async function decentralizedAuth(): Promise<DecentralizedAuth> {
  const operator = createOperator();
  const account = createAccount();
  const operatorJwt = await encodeOperator("distsync-test", operator);
  const accountJwt = await encodeAccount(
    "distsync",
    account,
    // Without limits, the account may open no connection at all.
    {
      limits: {
        conn: -1,
        subs: -1,
        data: -1,
        payload: -1,
        leaf: -1,
        imports: -1,
        exports: -1,
        wildcards: true,
      },
    },
    { signer: operator },
  );
  const creds = async (name: string, signer: KeyPair, user: KeyPair, permissions: Partial<User>) =>
    new TextDecoder().decode(
      fmtCreds(await encodeUser(name, user, signer, { ...UNLIMITED, ...permissions }), user),
    );
  const clientUser = createUser();
  const clientJwt = await encodeUser("client", clientUser, account, { ...UNLIMITED, ...CLIENT_PERMISSIONS });
  return {
    config: [
      `operator: ${operatorJwt}`,
      "resolver: MEMORY",
      "resolver_preload: {",
      `  ${account.getPublicKey()}: ${accountJwt}`,
      "}",
      "",
    ].join("\n"),
    hubCreds: await creds("hub", account, createUser(), HUB_PERMISSIONS),
    clientCreds: new TextDecoder().decode(fmtCreds(clientJwt, clientUser)),
    strangerCreds: await creds("stranger", createAccount(), createUser(), {}),
    mismatchedCreds: new TextDecoder().decode(fmtCreds(clientJwt, createUser())),
  };
}

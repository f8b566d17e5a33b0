// zod's tree-shakable form with its English messages: the same checks and issues as the classic API, without loading
// all of it. The classic bundle (every locale, JSON Schema, every method on every schema) took about 40 ms of every
// command's start-up, and of each thread that validates records; this takes a few. Import it as a namespace
// (`import * as z`), never re-export it as an object: the bundler then keeps only what is used.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// The classic API sets this on its first schema; the mini one leaves every message at "Invalid input" until told.
config(en());

export * from 'zod/mini';

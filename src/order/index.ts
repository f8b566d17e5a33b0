// The order module's public face: read strictly, evaluate every refusal reason, approve.
export { readOrderFile, parseOrderBytes, parseOrderJson, MAX_ORDER_BYTES, type ReadOrder } from './read-order.js';
export {
  checkOrder,
  evaluateOrder,
  evaluateOrderOnRecord,
  evaluateOrderRules,
  type CheckedOrder,
  type OrderContext,
  type OrderEvaluation,
  type OrderReason,
  type ResolvedAccount,
} from './check-order.js';
export { approveOrder, type ApproveOptions, type ApprovedOrder } from './approve-order.js';
export { verifyApproval, loadReviewerCas } from './approval-verify.js';
export { blanketProblem, resolveTargets } from './targets.js';

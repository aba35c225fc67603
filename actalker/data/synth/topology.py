"""Ordered contour loops of MediaPipe's 478-point face mesh (indices into the landmarks).

"Left"/"right" are the subject's: the subject's left eye is on the image's right.
Each loop is ordered so it can be drawn as a polygon; the upper/lower halves are used to
open the mouth and the eyelids. Checked against MediaPipe's FaceLandmarksConnections in
tests/data/test_landmarks.py.
"""
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (291, 375, 321, 405, 314, 17, 84, 181, 91, 146, 61)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (308, 324, 318, 402, 317, 14, 87, 178, 88, 95, 78)
LIPS_OUTER = LIPS_OUTER_UPPER + LIPS_OUTER_LOWER[1:-1]
LIPS_INNER = LIPS_INNER_UPPER + LIPS_INNER_LOWER[1:-1]

RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
RIGHT_EYE_UPPER = (133, 173, 157, 158, 159, 160, 161, 246, 33)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
LEFT_EYE_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
RIGHT_EYE = RIGHT_EYE_LOWER + RIGHT_EYE_UPPER[1:-1]
LEFT_EYE = LEFT_EYE_LOWER + LEFT_EYE_UPPER[1:-1]
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre first
LEFT_IRIS = (473, 474, 475, 476, 477)

RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
RIGHT_BROW_UPPER = (107, 66, 105, 63, 70)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)
LEFT_BROW_UPPER = (336, 296, 334, 293, 300)
RIGHT_BROW = RIGHT_BROW_LOWER + RIGHT_BROW_UPPER
LEFT_BROW = LEFT_BROW_LOWER + LEFT_BROW_UPPER

FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
             54, 103, 67, 109)
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4)
NOSE_BOTTOM = (98, 97, 2, 326, 327)
